# One image for the API and the worker: `tierwise serve` or `tierwise worker`.
FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -trimpath -o /out/tierwise ./cmd/tierwise

FROM gcr.io/distroless/static-debian12
COPY --from=build /out/tierwise /tierwise
USER nonroot
EXPOSE 8080
ENTRYPOINT ["/tierwise"]
CMD ["serve"]
