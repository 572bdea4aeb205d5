"""Development: the embedded database unless MONGODB_URI is set, mail to the console."""

from .base import *  # noqa: F403
from .base import env

DEBUG = env.bool("DEBUG", default=True)
