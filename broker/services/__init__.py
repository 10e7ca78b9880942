"""Broker services: the rules between the HTTP handlers and storage."""
