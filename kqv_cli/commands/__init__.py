"""One module per family of commands; importing a module registers its commands."""
