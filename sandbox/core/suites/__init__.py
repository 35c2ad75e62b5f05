"""Eval suites (prompts/suites/*.toml): tests with assertions, run as a matrix of templates ×
strategies × models with K seeds each, cached, and scored with intervals and paired p-values.

Headless: nothing here imports Textual."""
