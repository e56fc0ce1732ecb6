"""Dispensing: scanning packs, supplying all or part of a prescription, owings, and the controlled drugs register.

Service functions (each checks the user's role; each write is one transaction):

- ``scan.verify_scan``: is this barcode a pack of the prescribed product?
- ``supply.dispense_items``: supply lines of a prescription (checked by ``planning`` first); owings, CD register
  entries, overrides, audit events and outbox rows in the same transaction.
- ``cd_register``: receipts, corrections, and reading the register.
- ``queries``: finding prescriptions to dispense, the queue, owings.
"""
