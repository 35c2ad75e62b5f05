"""Core logic: plain Python, no Textual. Only core/engine.py imports llama_cpp."""
