import HTTP

/// The listing's webhook endpoints (API.md §11), with the `webhooks` scope:
/// `POST /crm/{id}/webhooks` (`url`, `events`) adds one and shows its secret this once,
/// `GET` lists them, `DELETE /crm/{id}/webhooks/{webhook_id}` removes one.
extension ContactsAPI {
    func webhooks(_ context: RequestContext) async throws -> HTTPResponse {
        guard let listing = context.listing, let key = context.presentedKey else { throw APIError.forbidden }
        let parameters = try await validated(key.digest, listing: listing, scope: .webhooks) { () throws(APIError) in
            try RequestParameters(context.request)
        }
        if context.request.method == .post {
            let (url, events) = try await validated(key.digest, listing: listing, scope: .webhooks) { () throws(APIError) in
                guard let text = parameters["url"], !text.isEmpty else { throw APIError.missing("url", "url is required.") }
                return (try WebhookURL(text), try WebhookStore.events(parameters["events"]))
            }
            // Who asks before any name is resolved for them (one more round trip, adds only).
            try await requireAccess(key.digest, listing: listing, scope: .webhooks)
            if let why = await webhookAddresses.refusal(host: url.host) {
                throw APIError.invalid("url", "url \(why); webhooks may not call internal addresses.")
            }
            let secret = WebhookStore.newSecret()
            guard let added = try await webhookStore.add(keyHash: key.digest, listing: listing, url: url.text, events: events,
                                                          secret: secret) else {
                throw try await refusal(key.digest, listing: listing, needing: .webhooks)
            }
            return APIResponse.success(201, "Webhook endpoint added.", capacity: 256) { data in
                data.key("webhook")
                added.write(to: &data, secret: secret)
            }
        }
        let endpoints = try await webhookStore.list(keyHash: key.digest, listing: listing)
        if endpoints.isEmpty { try await requireAccess(key.digest, listing: listing, scope: .webhooks) }
        return APIResponse.success(200, "\(endpoints.count) webhook endpoint(s).", capacity: endpoints.count * 256) { data in
            data.key("webhooks")
            data.beginArray()
            for endpoint in endpoints { endpoint.write(to: &data) }
            data.endArray()
        }
    }

    func webhook(_ context: RequestContext) async throws -> HTTPResponse {
        guard let listing = context.listing, let key = context.presentedKey else { throw APIError.forbidden }
        let webhookID = try await validated(key.digest, listing: listing, scope: .webhooks) { () throws(APIError) in
            _ = try RequestParameters(context.request)
            guard let id = try ContactValidation.contactID(context.pathParameter("webhook_id").map(String.init), name: "webhook_id") else {
                throw APIError.invalid("webhook_id", "webhook_id must be a whole number from 1 to 9223372036854775807.")
            }
            return id
        }
        guard try await webhookStore.remove(keyHash: key.digest, listing: listing, webhookID: webhookID) else {
            try await requireAccess(key.digest, listing: listing, scope: .webhooks)
            throw APIError(status: 404, code: .notFound, message: "This listing has no such webhook endpoint.")
        }
        return APIResponse.success(202, "Webhook endpoint removed.") { data in
            data.key("webhook_id")
            data.number(webhookID)
        }
    }
}
