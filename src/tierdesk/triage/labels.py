"""The triage label set: departments, intents and priorities, with the definitions agents and example writers share.

The organising question is "is this a people problem or a product problem?": a people problem (money, orders,
account administration, policy) goes to Customer Service; a product problem (something does not work) goes to
Technical Support. Each intent belongs to exactly one department.
"""

from __future__ import annotations

from tierdesk.kit.vocabulary import Department

CS, TS = Department.CS, Department.TS

# intent -> (department, definition)
INTENTS: dict[str, tuple[Department, str]] = {
    # Customer Service: "I want something done about my account, my order or my money"
    "billing_dispute": (CS, "a charge is wrong: double charge, overcharge, unexpected fee, price not as offered"),
    "refund_request": (CS, "wants money back for an order, a service or a charge"),
    "cancel_subscription": (CS, "wants to cancel a subscription, contract, membership or service (not an order)"),
    "cancel_order": (CS, "wants to cancel an order or booking that has not arrived yet"),
    "change_plan": (CS, "upgrade, downgrade or switch a plan, tariff or package"),
    "order_status": (CS, "where is my order, late delivery, tracking, delivery date"),
    "delivery_problem": (CS, "package lost, wrong or missing item, damaged on arrival, delivered to the wrong place"),
    "return_exchange": (CS, "return or exchange a product, return label, warranty replacement logistics"),
    "update_account_details": (CS, "change address, name, email, phone number or other account data"),
    "payment_method": (CS, "add or change a card or bank account, pay by invoice, instalments, direct debit"),
    "invoice_request": (CS, "needs an invoice, receipt, statement, VAT or tax document"),
    "pricing_question": (CS, "pre-sales: prices, offers, discounts, which plan or product to buy, availability"),
    "account_closure": (CS, "close or delete an account, remove personal data (GDPR)"),
    "complaint": (CS, "unhappy with service, staff or handling; wants a manager; compensation for poor service"),
    "policy_question": (CS, "terms, return policy, warranty terms, opening hours, how a process works"),
    # Technical Support: "something does not work"
    "login_problem": (TS, "cannot log in or sign in, password reset or 2FA code not working, account locked out"),
    "app_crash": (TS, "an app or program crashes, freezes, closes itself or will not start"),
    "connectivity": (TS, "no internet, wifi drops, no mobile signal, VPN or network will not connect"),
    "device_fault": (TS, "hardware fault: will not turn on, black screen, battery, overheating, noise, broken part"),
    "error_message": (TS, "an error code or error message appears"),
    "sync_issue": (TS, "data not syncing, emails or notifications not arriving, files not updating across devices"),
    "performance": (TS, "slow, laggy, timeouts, high CPU or memory"),
    "feature_not_working": (TS, "a function, button, page, card or payment terminal does not do what it should"),
    "setup_installation": (TS, "install, configure, pair, activate or integrate a product, device or API"),
    "outage": (TS, "a service is down for many users, site unreachable, incident"),
    "security_issue": (TS, "hacked account, suspicious logins, malware, phishing, vulnerability"),
    "data_loss": (TS, "files, messages or data disappeared or were corrupted and must be recovered"),
}

SENTIMENTS = ("negative", "neutral", "positive")


def department_of(intent: str) -> Department:
    return INTENTS[intent][0]


def intents_of(department: Department) -> list[str]:
    return [name for name, (dept, _) in INTENTS.items() if dept == department]
