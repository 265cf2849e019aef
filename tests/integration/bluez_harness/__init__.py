"""Test harness: the real bleak BlueZ backend against BlueZoo on a private system bus."""
