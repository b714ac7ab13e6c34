"""Packaging for GloziChat: the server, the twistd plugin and the Tk client."""

from pathlib import Path

from setuptools import find_packages, setup

setup(
    name="glozichat",
    version="0.1.0",
    description="A LAN chat-room server and desktop client built on Twisted",
    long_description=Path(__file__).with_name("README.md").read_text(encoding="utf-8"),
    long_description_content_type="text/markdown",
    python_requires=">=3.11",
    # twisted.plugins is a namespace shared with Twisted itself, so it has no
    # __init__.py of ours and find_packages() cannot see it: list it by hand.
    packages=find_packages(include=["glozi", "glozi.*"]) + ["twisted.plugins"],
    # The browser client's files (docs/web.md), folders below webclient/ included.
    package_data={"glozi": ["assets/*.png", "webclient/*", "webclient/**/*"]},
    install_requires=[
        "twisted[tls]>=23.10",
        "scapy>=2.5",
        "Pillow>=10.0",
        "regex>=2023.0",
    ],
    extras_require={
        "test": ["hypothesis>=6.80", "ruff==0.17.6", "irc>=20.0"],
        # Cluster mode (docs/cluster.md): the PostgreSQL store and record (--db postgresql://...), Redis (--redis).
        "cluster": ["psycopg[binary]>=3.1", "txredisapi>=1.4"],
    },
    entry_points={
        "console_scripts": [
            "glozichat-client = glozi.client.app:main",
            "glozichat-discover = glozi.discovery.cli:main",
        ],
    },
)
