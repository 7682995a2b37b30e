"""Call detail records: import from the telephony system and reconciliation with
the recordings ("no call was lost")."""
