"""Orchestration."""
