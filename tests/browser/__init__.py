"""Tests that drive the served dashboard in headless Chromium."""
