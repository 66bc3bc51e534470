"""Passage search behind a narrow, backend-neutral interface.

``kb.search.types`` holds the request/result shapes; ``kb.search.whoosh_backend`` the Whoosh
implementation. Callers use :func:`open_index` and the methods of :class:`PassageIndex`.
"""
