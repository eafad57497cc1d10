from django.contrib import admin

from application.models import Counter, Message


@admin.register(Counter)
class CounterAdmin(admin.ModelAdmin):
    list_display = ("name", "value")
    search_fields = ("name",)


@admin.register(Message)
class MessageAdmin(admin.ModelAdmin):
    list_display = ("id", "author", "status", "created_at", "updated_at")
    list_filter = ("status",)
    search_fields = ("text", "author__username")
    list_select_related = ("author",)
    raw_id_fields = ("author",)
    readonly_fields = ("created_at", "updated_at")
