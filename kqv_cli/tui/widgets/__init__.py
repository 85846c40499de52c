"""The lesson screen's panes. Each widget shows what it is given; none of them runs the engine."""
