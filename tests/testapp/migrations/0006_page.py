from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("testapp", "0005_albums"),
    ]

    operations = [
        migrations.CreateModel(
            name="Page",
            fields=[
                (
                    "id",
                    models.AutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("path", models.CharField(max_length=100)),
                ("meta", models.JSONField(default=dict)),
            ],
        ),
    ]
