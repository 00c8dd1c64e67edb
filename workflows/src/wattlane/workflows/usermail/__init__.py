"""Mails with a one-time link to one user: invitations and password resets."""
