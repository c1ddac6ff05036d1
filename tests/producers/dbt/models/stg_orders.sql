select id as order_id, customer_id, amount, cast(ordered_at as date) as ordered_at
from {{ source('shop', 'raw_orders') }}
