"""The Textual workbench. Thin: renders core events and sends user intents to core."""
