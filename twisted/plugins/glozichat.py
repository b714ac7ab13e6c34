"""The ``glozichat`` twistd plugin: ``twistd -n glozichat --help``."""

from twisted.application.service import ServiceMaker

glozichat = ServiceMaker(
    "GloziChat",
    "glozi.tap",
    "A LAN chat-room server with sessions, admins and commands.",
    "glozichat",
)
