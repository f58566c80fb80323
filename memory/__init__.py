"""Hybrid per-tenant memory (FAISS vectors, BM25 keywords, Kuzu graph); built by a later issue."""
