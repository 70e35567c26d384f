"""The benchmark of node-role-remediator on a seeded local emulator (see README.md)."""
