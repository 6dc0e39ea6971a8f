public import Foundation

/// The words of the texts mwid sends, in the user's language (English, or French for a
/// `fr` locale): the voice-mail preview (caller, time, duration, the start of the
/// transcript), the missed-call notice and the set-up passcode. Pure.
public enum SMSComposer {
    enum Language { case english, french }

    static func language(_ locale: String?) -> Language {
        (locale ?? "").lowercased().hasPrefix("fr") ? .french : .english
    }

    /// The caller as the user reads it; a hidden number is "unknown caller".
    static func caller(_ from: String, countryCode: String?, _ language: Language) -> String {
        let shown = PhoneNumber.display(caller: from, countryCode: countryCode).trimmingCharacters(in: .whitespaces)
        let lower = shown.lowercased()
        if shown.isEmpty || lower == "anonymous" || lower.hasPrefix("anonymous@") || lower == "unknown" {
            return language == .french ? "numéro masqué" : "unknown caller"
        }
        return shown
    }

    /// `14:05` today, else `01/12 14:05` (French) or `12/01 14:05`, in the user's zone.
    static func time(_ date: Date, now: Date, zone: TimeZone, _ language: Language) -> String {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = zone
        let d = calendar.dateComponents([.month, .day, .hour, .minute], from: date)
        let clock = String(format: "%02d:%02d", d.hour ?? 0, d.minute ?? 0)
        if calendar.isDate(date, inSameDayAs: now) { return clock }
        let day = language == .french ? String(format: "%02d/%02d", d.day ?? 0, d.month ?? 0)
                                      : String(format: "%02d/%02d", d.month ?? 0, d.day ?? 0)
        return "\(day) \(clock)"
    }

    static func duration(_ seconds: Int) -> String {
        seconds >= 3600 ? String(format: "%d:%02d:%02d", seconds / 3600, seconds / 60 % 60, seconds % 60)
                        : String(format: "%d:%02d", seconds / 60, seconds % 60)
    }

    /// "Voice mail from 01 42 68 53 00 at 14:05 (0:42): Bonjour, c'est Paul…" — the
    /// transcript last, so that a long one is what the part limit cuts.
    public static func voiceMail(_ message: VoiceMessage, countryCode: String?, locale: String?, zone: TimeZone,
                                 now: Date) -> String {
        let language = language(locale)
        let who = caller(message.from, countryCode: countryCode, language)
        let when = time(message.receivedAt, now: now, zone: zone, language)
        let long = duration(message.durationSeconds)
        var text: String
        switch language {
        case .english: text = "\(message.urgent ? "Urgent voice mail" : "Voice mail") from \(who) at \(when) (\(long))"
        case .french: text = "\(message.urgent ? "Message vocal urgent" : "Message vocal") de \(who) à \(when) (\(long))"
        }
        let transcript = (message.transcript ?? "").split(whereSeparator: \.isNewline).joined(separator: " ")
            .trimmingCharacters(in: .whitespaces)
        if !transcript.isEmpty { text += (language == .french ? " : " : ": ") + transcript }
        return text
    }

    /// The text for a mailbox fed by another voicemail system: it publishes counts, not
    /// messages, so the text says how many are waiting (`urgent` of them urgent).
    public static func newVoiceMail(waiting new: Int, urgent: Int, at: Date, locale: String?, zone: TimeZone, now: Date) -> String {
        let language = language(locale)
        let when = time(at, now: now, zone: zone, language)
        switch language {
        case .english:
            let count = new == 1 ? "1 new voice message" : "\(new) new voice messages"
            return "\(count) at \(when)" + (urgent > 0 ? " (\(urgent) urgent)" : "")
        case .french:
            let count = new == 1 ? "1 nouveau message vocal" : "\(new) nouveaux messages vocaux"
            return "\(count) à \(when)" + (urgent > 0 ? " (\(urgent) urgent\(urgent == 1 ? "" : "s"))" : "")
        }
    }

    public static func missedCall(from: String, at: Date, countryCode: String?, locale: String?, zone: TimeZone,
                                  now: Date) -> String {
        let language = language(locale)
        let who = caller(from, countryCode: countryCode, language)
        let when = time(at, now: now, zone: zone, language)
        switch language {
        case .english: return "Missed call from \(who) at \(when) (no message left)"
        case .french: return "Appel manqué de \(who) à \(when) (pas de message)"
        }
    }

    public static func passcode(_ code: String, locale: String?, minutes: Int) -> String {
        switch language(locale) {
        case .english: return "Your voice mail text-notification code is \(code). It expires in \(minutes) minutes."
        case .french: return "Votre code d'activation des SMS de messagerie vocale est \(code). Il expire dans \(minutes) minutes."
        }
    }
}
