import Hummingbird
import UnifiedMessaging

/// The OpenAPI 3.1 document of the API, made from the route table and the schemas below.
enum OpenAPIDocument {
    static func make<C>(entries: [RouteTable<C>.Entry], version: String) -> JSONValue {
        var paths: [String: [String: JSONValue]] = [:]
        for entry in entries {
            var operation: [String: JSONValue] = ["summary": .string(entry.summary)]
            var parameters: [JSONValue] = []
            for part in entry.path.split(separator: "/") where part.hasPrefix("{") {
                let name = String(part.dropFirst().dropLast())
                parameters.append(["name": .string(name), "in": "path", "required": true, "schema": ["type": "string"]])
            }
            for q in entry.query {
                parameters.append(["name": .string(q.name), "in": "query", "required": false,
                                   "description": .string(q.description), "schema": ["type": "string"]])
            }
            if !parameters.isEmpty { operation["parameters"] = .array(parameters) }
            if let request = entry.request {
                operation["requestBody"] = ["required": true, "content": ["application/json": ["schema": schemaRef(request)]]]
            }
            var responses: [String: JSONValue] = [:]
            for (status, schema) in entry.responses {
                var response: [String: JSONValue] = ["description": .string(describe(status))]
                if let schema {
                    response["content"] = ["application/json": ["schema": schemaRef(schema)]]
                }
                responses[String(status)] = .object(response)
            }
            if entry.authenticated {
                responses["401"] = ["description": "missing or wrong bearer token",
                                    "content": ["application/json": ["schema": schemaRef("Error")]]]
            } else {
                operation["security"] = []
            }
            operation["responses"] = .object(responses)
            paths[entry.path, default: [:]][entry.method.rawValue.lowercased()] = .object(operation)
        }
        return [
            "openapi": "3.1.0",
            "info": ["title": "mwid", "version": .string(version),
                     "description": "Message Waiting Indicator server: directory, voice messages, MWI state."],
            "servers": [["url": "/"]],
            "security": [["bearer": []]],
            "paths": .object(paths.mapValues { .object($0) }),
            "components": ["securitySchemes": ["bearer": ["type": "http", "scheme": "bearer"]], "schemas": .object(schemas)],
        ]
    }

    static func schemaRef(_ name: String) -> JSONValue {
        if name.hasPrefix("[") {
            return ["type": "array", "items": schemaRef(String(name.dropFirst().dropLast()))]
        }
        return ["$ref": .string("#/components/schemas/\(name)")]
    }

    static func describe(_ status: Int) -> String {
        switch status {
        case 200: "OK"
        case 201: "Created"
        case 202: "Accepted: the MWI engine delivers in the background"
        case 204: "Done, no content"
        case 400: "Invalid input; the error names the field"
        case 404: "No such object"
        case 409: "Conflicts with an existing object, or the object is still in use"
        case 403: "Refused (too many wrong passcodes: the set-up was cancelled)"
        case 410: "Expired"
        case 413: "Body larger than 1 MiB"
        case 429: "Too many requests; Retry-After says when to try again"
        case 502: "A gateway (the SMS route) refused or failed"
        case 503: "Not healthy"
        default: "Status \(status)"
        }
    }

    static func enumeration<E: DirectoryEnum>(_ type: E.Type, _ description: String) -> JSONValue {
        ["type": "string", "enum": .array(E.allCases.map { .string($0.rawValue) }), "description": .string(description)]
    }

    static func object(_ properties: [String: JSONValue], required: [String]) -> JSONValue {
        ["type": "object", "properties": .object(properties), "required": .array(required.map { .string($0) }),
         "additionalProperties": false]
    }

    static let string: JSONValue = ["type": "string"]
    static let nullableString: JSONValue = ["type": ["string", "null"]]
    static let boolean: JSONValue = ["type": "boolean"]
    static let integer: JSONValue = ["type": "integer"]
    static let time: JSONValue = ["type": "string", "format": "date-time"]

    static var schemas: [String: JSONValue] {
        [
            "DialPlan": object([
                "name": string,
                "numberOfDigitsInExtension": ["type": "integer", "minimum": 1, "maximum": 20],
                "uriType": enumeration(URIType.self, "how users are named in SIP"),
                "voipSecurity": enumeration(VoIPSecurity.self, "Unsecured: TCP; SIPSecured and Secured: TLS"),
                "countryOrRegionCode": nullableString,
                "unsolicitedNotifyWhenSubscribed": ["type": "boolean",
                                                    "description": "unsolicited NOTIFYs go on for mailboxes with live subscriptions (default true)"],
            ], required: ["name", "numberOfDigitsInExtension"]),
            "IPGateway": object([
                "name": string, "address": ["type": "string", "description": "IPv4, IPv6 or FQDN"],
                "port": ["type": "integer", "minimum": 1, "maximum": 65535],
                "transport": enumeration(GatewayTransport.self, "auto follows the dial plan's security"),
                "dialPlans": ["type": "array", "items": string],
                "status": enumeration(GatewayStatus.self, "Disabled gateways get no NOTIFY"),
                "messageWaitingIndicatorAllowed": boolean, "priority": integer,
                "username": nullableString,
                "password": ["type": ["string", "null"], "writeOnly": true],
                "hasPassword": ["type": "boolean", "readOnly": true],
            ], required: ["name", "address"]),
            "MailboxPolicy": object([
                "name": string, "dialPlan": string, "allowMessageWaitingIndicator": boolean, "allowSMSNotification": boolean,
            ], required: ["name", "dialPlan"]),
            "UMMailbox": object([
                "identity": string, "extension": ["type": "string", "pattern": "^[0-9]+$"], "dialPlan": string, "policy": string,
                "sipResourceIdentifier": nullableString,
                "umSMSNotificationOption": enumeration(SMSNotificationOption.self, "which texts the user receives"),
                "mwiSource": enumeration(MWISource.self, "Messages: counts from its voice messages; External: published by another voicemail system"),
                "sipPassword": ["type": ["string", "null"], "writeOnly": true],
                "hasSIPPassword": ["type": "boolean", "readOnly": true],
            ], required: ["identity", "extension", "dialPlan", "policy"]),
            "VoiceMessage": object([
                "id": string, "from": string, "receivedAt": time, "durationSeconds": integer, "urgent": boolean,
                "protected": boolean, "read": boolean, "transcript": nullableString,
            ], required: ["id", "from", "receivedAt", "durationSeconds", "urgent", "protected", "read"]),
            "VoiceMessageDeposit": object([
                "from": string, "receivedAt": time, "durationSeconds": ["type": "integer", "minimum": 0, "maximum": 86400],
                "urgent": boolean, "protected": boolean, "read": boolean, "transcript": nullableString,
            ], required: ["from", "durationSeconds"]),
            "VoiceMessageChange": object(["read": boolean, "urgent": boolean], required: []),
            "Patch": ["type": "object", "description": "JSON merge patch: the fields given change, null clears an optional field"],
            "MWIStatus": object([
                "new": integer, "old": integer, "urgentNew": integer, "urgentOld": integer, "messagesWaiting": boolean,
                "enabled": boolean, "reason": string, "gateways": ["type": "array", "items": string],
                "acknowledged": ["type": "boolean", "description": "the newest state was acknowledged by a gateway"],
                "acknowledgedState": ["type": ["object", "null"], "properties": [
                    "new": integer, "old": integer, "urgentNew": integer, "urgentOld": integer, "messagesWaiting": boolean,
                    "gateway": string, "at": time,
                ]],
                "lastAttempts": ["type": "array", "items": object([
                    "gateway": string, "transport": string, "at": time, "response": string, "delivered": boolean, "state": string,
                ], required: ["gateway", "transport", "at", "response", "delivered", "state"])],
                "subscriptions": ["type": "integer", "description": "live subscriptions to the mailbox"],
                "mwiSource": enumeration(MWISource.self, "where the counts come from"),
                "publications": ["type": "array", "description": "External mailboxes: the live publications, newest first (it sets the counts)",
                                 "items": object([
                                     "etag": string, "publisher": string, "updatedAt": time,
                                     "expiresAt": ["type": ["string", "null"], "format": "date-time"],
                                     "state": object(["new": integer, "old": integer, "urgentNew": integer, "urgentOld": integer],
                                                     required: ["new", "old", "urgentNew", "urgentOld"]),
                                 ], required: ["etag", "publisher", "state", "updatedAt"])],
            ], required: ["new", "old", "urgentNew", "urgentOld", "messagesWaiting", "enabled", "reason", "mwiSource"]),
            "MWICounts": object([
                "new": ["type": "integer", "minimum": 0], "old": ["type": "integer", "minimum": 0],
                "urgentNew": ["type": "integer", "minimum": 0, "description": "urgent among the new (default 0)"],
                "urgentOld": ["type": "integer", "minimum": 0, "description": "urgent among the old (default 0)"],
            ], required: ["new", "old"]),
            "Subscription": object([
                "id": string, "mailbox": string,
                "subscriber": ["type": "string", "description": "who authenticated: digest USER or trusted ADDRESS"],
                "contact": string, "transport": string, "source": string, "createdAt": time, "expiresAt": time,
                "notifiedState": nullableString, "lastNotifyAt": ["type": ["string", "null"], "format": "date-time"],
                "lastResponse": nullableString,
            ], required: ["id", "mailbox", "subscriber", "contact", "transport", "source", "createdAt", "expiresAt"]),
            "SMSRoute": object([
                "name": string, "kind": enumeration(SMSRouteKind.self, "SMPP 3.4 to an SMSC, an HTTP gateway, or email-to-SMS over SMTP"),
                "url": ["type": "string", "description": "http: template with {to}, {text}, {from}, {coding}, {username}, {password}"],
                "method": enumeration(SMSHTTPMethod.self, "http: POST sends the query part as a form body"),
                "successPattern": ["type": "string", "description": "http: regular expression the answer must match"],
                "body": ["type": "string", "description": "http POST: body template (placeholders filled as they are); without it the query is sent as a form"],
                "headers": ["type": "object", "additionalProperties": ["type": "string"], "description": "http: extra headers (templates)"],
                "host": string, "port": ["type": "integer", "minimum": 1, "maximum": 65535],
                "systemId": ["type": "string", "description": "smpp: ESME login (≤ 15 characters)"], "systemType": string,
                "username": nullableString, "password": ["type": ["string", "null"], "writeOnly": true],
                "hasPassword": ["type": "boolean", "readOnly": true],
                "tls": ["type": "boolean", "description": "smpp: TLS to the SMSC"],
                "sourceAddress": ["type": "string", "description": "sender shown on the phone (digits, or ≤ 11 letters)"],
                "bind": enumeration(SMPPBindMode.self, "smpp: transceiver also receives delivery receipts"),
                "window": ["type": "integer", "minimum": 1, "maximum": 100, "description": "smpp: requests in flight (default 10)"],
                "enquireLinkInterval": ["type": "integer", "description": "smpp: seconds of idleness before enquire_link (default 30)"],
                "from": ["type": "string", "description": "smtp: sender address"],
                "startTLS": enumeration(SMTPStartTLS.self, "smtp: STARTTLS when offered (default), required or never"),
                "caFile": ["type": "string", "description": "PEM CA file the server's certificate is checked against"],
                "maximumParts": ["type": "integer", "minimum": 1, "maximum": 16, "description": "longer texts are cut with an ellipsis (default 3)"],
            ], required: ["name", "kind"]),
            "SMSCarrier": object([
                "locale": ["type": "string", "description": "fr-FR, en-US…: its country reads national numbers"], "name": string,
                "route": string, "emailDomain": ["type": ["string", "null"], "description": "smtp routes: NUMBER@emailDomain"],
            ], required: ["locale", "name", "route"]),
            "SMSSetupRequest": object(["locale": string, "carrier": string, "number": ["type": "string", "description": "as the user types it"]],
                                      required: ["locale", "carrier", "number"]),
            "SMSVerifyRequest": object(["code": ["type": "string", "pattern": "^[0-9]{6}$"]], required: ["code"]),
            "QuietHours": object(["start": ["type": "string", "pattern": "^[0-2][0-9]:[0-5][0-9]$"],
                                  "end": ["type": "string", "pattern": "^[0-2][0-9]:[0-5][0-9]$"]], required: ["start", "end"]),
            "SMSPreferences": object(["quietHours": ["oneOf": [["$ref": "#/components/schemas/QuietHours"], ["type": "null"]]],
                                      "timeZone": ["type": ["string", "null"], "description": "IANA time zone, such as Europe/Paris"]],
                                     required: []),
            "SMSStatus": object([
                "state": ["type": "string", "enum": ["off", "pending", "verified"]],
                "number": ["type": ["string", "null"], "description": "the verified number, masked"],
                "locale": nullableString, "carrier": nullableString, "verifiedAt": ["type": ["string", "null"], "format": "date-time"],
                "pending": ["type": ["object", "null"], "properties": [
                    "number": string, "locale": string, "carrier": string, "expiresAt": time, "expired": boolean, "triesLeft": integer,
                ]],
                "passcodesLeftThisHour": integer,
                "quietHours": ["oneOf": [["$ref": "#/components/schemas/QuietHours"], ["type": "null"]]], "timeZone": nullableString,
                "umSMSNotificationOption": enumeration(SMSNotificationOption.self, "which texts the user receives"),
                "allowSMSNotification": boolean,
                "active": object(["voiceMail": boolean, "missedCalls": boolean, "reason": string], required: ["voiceMail", "missedCalls", "reason"]),
            ], required: ["state", "passcodesLeftThisHour", "umSMSNotificationOption", "allowSMSNotification", "active"]),
            "SMSRecord": object([
                "id": string, "purpose": ["type": "string", "enum": .array(SMSPurpose.allCases.map { .string($0.rawValue) })],
                "subject": ["type": "string", "description": "the voice message or missed call"], "number": string,
                "carrier": string, "route": nullableString, "text": string, "createdAt": time, "notBefore": time,
                "status": ["type": "string", "enum": .array(SMSStatus.allCases.map { .string($0.rawValue) })],
                "attempts": integer, "partsSent": integer, "lastError": nullableString, "updatedAt": time,
            ], required: ["id", "purpose", "subject", "number", "carrier", "text", "createdAt", "status", "attempts"]),
            "MissedCallReport": object(["mailbox": string, "extension": string, "dialPlan": string, "from": string, "at": time],
                                       required: ["from"]),
            "MissedCall": object(["id": string, "mailbox": string, "from": string, "at": time,
                                  "sms": ["type": ["string", "null"], "description": "the text queued for it"]],
                                 required: ["id", "mailbox", "from", "at"]),
            "Event": object([
                "id": integer, "at": time, "level": ["type": "string", "enum": ["info", "warning", "error"]],
                "kind": string, "subject": string, "message": string,
            ], required: ["id", "at", "level", "kind", "subject", "message"]),
            "RefreshRequest": object(["mailbox": string, "gateway": string, "dialPlan": string, "policy": string, "all": boolean],
                                     required: []),
            "RefreshResult": object(["mailboxes": integer], required: ["mailboxes"]),
            "Health": object(["status": string, "version": string], required: ["status"]),
            "Error": object([
                "error": object(["code": string, "message": string, "field": nullableString], required: ["code", "message"]),
            ], required: ["error"]),
        ]
    }
}
