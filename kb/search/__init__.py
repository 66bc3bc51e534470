"""Passage search: one service (kb.search.service) holds the policy — query language,
validation, spelling, AND->OR fallback, cursors, result cache, time budget — and hands a
neutral query tree (kb.search.querytree) to a backend (kb.search.types.SearchBackend),
chosen by the `search_backend` setting (kb.search.backends). Only a backend's own package
imports its engine.
"""
