"""The intents and channels a support ticket can have (module 02): public names that every data file
shows, kept apart from the generator so a take-home bundle can carry them without the planted truth."""

INTENTS = ("account_access", "billing_question", "cancel_subscription", "delivery_status", "refund",
           "technical_issue")
CHANNELS = ("email", "web_form", "chat", "app", "social")
