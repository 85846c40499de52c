"""Lesson content (Markdown) and the step scripts that drive the engine for each step."""
