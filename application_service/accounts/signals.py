"""A changed password revokes every API token of its user, whatever changed it: set_password()
then save(), the admin's password form, `manage.py changepassword`, a new hash written directly.

The hash stored before the save is compared with the one being saved. Two saves change the hash
without changing the password and keep the tokens: a new user (no tokens yet), and the re-hash
of a right password that check_password saves after a hasher upgrade. A queryset's update()
sends no signal: change passwords through the model.
"""

from __future__ import annotations

from django.conf import settings
from django.db.models.signals import pre_save
from django.dispatch import receiver

from accounts import services


@receiver(pre_save, sender=settings.AUTH_USER_MODEL, dispatch_uid="accounts.revoke_tokens_on_password_change")
def revoke_tokens_on_password_change(sender, instance, raw=False, update_fields=None, **kwargs) -> None:
    if raw or instance._state.adding or getattr(instance, "checking_password", False):
        return
    if update_fields is not None and "password" not in update_fields:
        return  # e.g. last_login, saved at every sign-in
    stored = sender._default_manager.filter(pk=instance.pk).values_list("password", flat=True).first()
    if stored is not None and stored != instance.password:
        services.auth_tokens_revoke_all(user=instance)
