"""The migration lint: rules, the SQL reader, the engine that applies them."""
