from django.contrib.auth.models import AbstractUser


class User(AbstractUser):
    """The project's user, from the first migration, as Django advises for every new project:
    fields can be added later without swapping the user model of a database that has data."""

    # True while check_password runs: a right password may then be re-hashed with the current
    # hasher and saved, which changes the stored hash but not the password, so the user's API
    # tokens stay (accounts.signals revokes them when the password changes).
    checking_password = False

    def check_password(self, raw_password):
        self.checking_password = True
        try:
            return super().check_password(raw_password)
        finally:
            self.checking_password = False

    async def acheck_password(self, raw_password):
        self.checking_password = True
        try:
            return await super().acheck_password(raw_password)
        finally:
            self.checking_password = False
