"""Live calls: audio arriving from telephony while the call is in progress.

Adapters (``twilio``, ``audiosocket``, ``websocket_protocol``) turn each protocol's
frames into PCM for one ``LiveSession``; the session spools it encrypted to disk as it
arrives (``spool``) and, when the stream stops, hands it to the normal batch pipeline as
a call with the same id. ``recovery`` finishes the calls a crash cut off.
"""
