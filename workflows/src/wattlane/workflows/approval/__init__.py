"""The Customer Success approval of an application (one workflow per application)."""
