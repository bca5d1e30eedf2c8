"""The files a user gives a conversation: intake, storage, documents, images, what goes into a
prompt."""
