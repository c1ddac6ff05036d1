select id as customer_id, name, email, country
from {{ source('shop', 'raw_customers') }}
