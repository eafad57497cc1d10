from django.contrib import admin

from application.models import Counter


@admin.register(Counter)
class CounterAdmin(admin.ModelAdmin):
    list_display = ("name", "value")
    search_fields = ("name",)
