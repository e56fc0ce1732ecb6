"""The change topics announced on ``desktop.operation.change_notifier()`` once data has changed, so the views showing
it refresh and sync (desktop.sync_runner) sends the change soon. Each is a plain name; a view refreshes on the
topics it shows."""

from __future__ import annotations

TOKENS_CHANGED = "tokens"  # token accounts and their ledgers
PRESCRIPTIONS_CHANGED = "prescriptions"  # prescriptions signed, cancelled, expired
DISPENSINGS_CHANGED = "dispensings"  # supplies, owings, the CD register entries they make
PATIENTS_CHANGED = "patients"  # registered or edited patients
RECORDS_CHANGED = "records"  # anything else kept and synced: users, organisations, CD register entries, credits
SYNC_CHANGED = "sync"  # this workstation's server, session or sync inbox

# Local work the server must hear of: any of these makes sync run soon.
LOCAL_WORK = frozenset(
    {TOKENS_CHANGED, PRESCRIPTIONS_CHANGED, DISPENSINGS_CHANGED, PATIENTS_CHANGED, RECORDS_CHANGED, SYNC_CHANGED}
)
# What a sync may have brought from the server: announced after each completed sync.
FROM_SERVER = frozenset({TOKENS_CHANGED, PRESCRIPTIONS_CHANGED, DISPENSINGS_CHANGED, PATIENTS_CHANGED, SYNC_CHANGED})
