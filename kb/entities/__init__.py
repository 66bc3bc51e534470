"""Entity registry: canonical countries, regions, organisations and topics (people are
built from documents by indexer.people). See docs/entities.md."""
from kb.entities.registry import (
           Registry,
           base_registry,
           case_sensitive,
           load_registry,
           norm_surface,
)
from kb.entities.slug import person_id, slugify

__all__ = ["Registry", "base_registry", "case_sensitive", "load_registry", "norm_surface",
           "person_id", "slugify"]
