"""rag: ingestion, locators, embeddings, faiss/BM25 hybrid retrieval, quote resolution."""
