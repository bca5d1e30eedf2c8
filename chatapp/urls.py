from django.urls import path

from chatapp import api, views

app_name = "chatapp"

urlpatterns = [
    path("", views.chat, name="home"),
    path("c/<int:conversation_id>/", views.chat, name="conversation"),
    path("api/conversations/", api.conversations, name="api-conversations"),
    path(
        "api/conversations/<int:conversation_id>/",
        api.conversation_detail,
        name="api-conversation",
    ),
    path("api/models/", api.models, name="api-models"),
]
