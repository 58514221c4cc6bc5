/* Sending e-mail: the interface the outbox delivers through, chosen at start
 * from the settings (SMTP when RG_SMTP_URL is set, else the log). */
#ifndef RISINGGEN_OUTBOUND_MAIL_H
#define RISINGGEN_OUTBOUND_MAIL_H

/* One message; strings are borrowed for the call. */
typedef struct rg_mail {
    const char *to; /* one address */
    const char *subject;
    const char *body; /* plain text, UTF-8 */
} rg_mail;

typedef struct rg_mailer {
    const char *name; /* "log", "smtp" */
    /* Delivers m. 0 when delivered; RG_EVALIDATION when it can never be
     * delivered (a bad address, a permanent refusal); any other RG_E* when
     * it may pass later. Called from one thread at a time. */
    int (*send)(void *ctx, const rg_mail *m);
    void (*close)(void *ctx); /* may be NULL */
    void *ctx;
} rg_mailer;

/* The log mailer when smtp_url is NULL or "", else SMTP to smtp_url with
 * from as the sender (a default when NULL or ""). RG_EINVAL with a detail
 * naming the variable when either cannot be used. */
int rg_mailer_open(rg_mailer *out, const char *smtp_url, const char *from);
void rg_mailer_close(rg_mailer *m);

#endif
