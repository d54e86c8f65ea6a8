import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("testapp", "0006_page"),
    ]

    operations = [
        migrations.CreateModel(
            name="Stock",
            fields=[
                (
                    "id",
                    models.AutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("sku", models.CharField(max_length=50)),
                ("code", models.CharField(max_length=50, unique=True)),
                ("count", models.IntegerField(default=0)),
                ("updated", models.DateTimeField(auto_now=True)),
                ("sheet", models.FileField(blank=True, upload_to="sheets/")),
                (
                    "partner",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="stocks",
                        to="testapp.publisher",
                    ),
                ),
            ],
            options={
                "unique_together": {("partner", "sku")},
            },
        ),
    ]
