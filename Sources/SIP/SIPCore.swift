public enum SIPCore { public static let version = "0.1.0" }
