"""The screens of the lesson player: home, lesson, help and the dims dialog."""
