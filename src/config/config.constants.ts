/** DI token for the typed, validated `AppConfig`. */
export const APP_CONFIG = Symbol('APP_CONFIG');
