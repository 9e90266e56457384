"""The seed's index migration measured before and after (`make bench-indexes`)."""
