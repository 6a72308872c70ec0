/** The HTTP token grammar, for config keys that name a header or a cookie. */

/** RFC 9110 5.6.2: token = 1*tchar. Field names (5.1) and cookie names (RFC 6265 4.1.1) are tokens. */
export const TOKEN_PATTERN = "[A-Za-z0-9!#$%&'*+.^_`|~-]+";

/** A whole string that is one token. */
export const TOKEN = new RegExp(`^${TOKEN_PATTERN}$`);
