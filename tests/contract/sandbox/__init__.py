"""Contract tests of the vendor emulators through the official clients."""
