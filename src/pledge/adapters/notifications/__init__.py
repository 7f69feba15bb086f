"""Telling customers: email over SMTP, SMS through a gateway, in-app messages, rendered per locale."""
