"""Mail: templates rendered in the recipient's locale under the partner's brand, sent over
SMTP at most once per notification key; and a local SMTP sink for development and tests."""
