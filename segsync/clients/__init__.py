"""Official vendor clients, configured from the environment (credentials unwrapped only inside)."""
