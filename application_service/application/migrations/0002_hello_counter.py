from django.db import migrations


def create_hello_counter(apps, schema_editor):
    apps.get_model("application", "Counter").objects.get_or_create(name="hello")


class Migration(migrations.Migration):
    dependencies = [("application", "0001_initial")]

    operations = [migrations.RunPython(create_hello_counter, migrations.RunPython.noop)]
