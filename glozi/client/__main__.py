"""``python -m glozi.client``: run the desktop client."""

from glozi.client.app import main

main()
